diff --old policies/model_studio --new policies/model_studio docs/examples/diff/bills-for-data-readers.mspl --fail-on new-access
