# Infra checks that need no AWS account: cfn-lint, ParallelCluster schema, shellcheck, yamllint.
# The tools live in their own venvs (.venv-infra/, .venv-pcluster/): their pins clash with ours.
.PHONY: infra-tools infra-check

infra-tools:  ## the infra checkers in their own venvs (.venv-infra/, .venv-pcluster/)
	@infra/setup_tools.sh

infra-check: infra-tools  ## cfn-lint, ParallelCluster schema, shellcheck, yamllint, offline
	@infra/check.sh
