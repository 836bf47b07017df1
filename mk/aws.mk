# Local AWS stand-ins on loopback, so the S3/Lambda/SSM code is tested against real servers offline:
# ministack :4566 (S3, SQS, Lambda), moto :5000 (SSM, EC2).
# `eval "$(scripts/aws_standins.py env)"` exports the AWS_ENDPOINT_URL* variables clients use.
.PHONY: aws-up aws-down aws-status

aws-up:
	@python3 scripts/aws_standins.py up

aws-down:
	@python3 scripts/aws_standins.py down

aws-status:
	@python3 scripts/aws_standins.py status
