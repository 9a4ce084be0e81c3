translate --to json -p tests/cases/cli/trust/negation.cedar
