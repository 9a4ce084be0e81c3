diff --old policies/model_studio --new policies/model_studio docs/examples/diff/bills-for-data-readers.mspl --entities tests/cases/cli/trust/self_parent.json --fail-on new-access
