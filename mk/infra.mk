# Infra checks that need no AWS account: cfn-lint, ParallelCluster schema, shellcheck, yamllint.
# The tools live in their own venvs (.venv-infra/, .venv-pcluster/): their pins clash with ours.
.PHONY: infra-tools infra-check

infra-tools:
	@infra/setup_tools.sh

infra-check: infra-tools
	@infra/check.sh
