# Local AWS stand-ins on loopback, so the S3/Lambda/SSM code is tested against real servers offline:
# ministack :4566 (S3, SQS, Lambda), moto :5000 (SSM, EC2).
# `eval "$(scripts/aws_standins.py env)"` exports the AWS_ENDPOINT_URL* variables clients use.
.PHONY: aws-up aws-down aws-status

aws-up:  ## start the local AWS stand-ins (ministack :4566, moto :5000)
	@python3 scripts/aws_standins.py up

aws-down:  ## stop the local AWS stand-ins
	@python3 scripts/aws_standins.py down

aws-status:  ## whether the local AWS stand-ins run
	@python3 scripts/aws_standins.py status
