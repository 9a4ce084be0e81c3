authorize --policies tests/cases/authorize/fail_closed --entities tests/cases/authorize/fail_closed/entities.json --requests tests/cases/authorize/fail_closed/requests.jsonl
