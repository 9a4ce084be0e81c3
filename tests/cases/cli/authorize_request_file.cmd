authorize --policies tests/cases/authorize/default_deny --request tests/cases/cli/one_request.json --format json
