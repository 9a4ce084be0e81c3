authorize --policies tests/cases/authorize/default_deny --requests tests/cases/cli/bad_requests.jsonl
