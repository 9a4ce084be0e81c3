diff --old policies/model_studio --new policies/model_studio docs/examples/diff/bills-for-data-readers.mspl --requests tests/cases/cli/trust/empty.jsonl --fail-on any
