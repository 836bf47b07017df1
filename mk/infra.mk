# Infra checks (issue 5): cfn-lint, ParallelCluster schema, shellcheck, yamllint, all offline.
# The tools live in their own venvs (.venv-infra/, .venv-pcluster/), made by infra/setup_tools.sh.
.PHONY: infra-tools infra-check

infra-tools:
	@infra/setup_tools.sh

infra-check: infra-tools
	@infra/check.sh
