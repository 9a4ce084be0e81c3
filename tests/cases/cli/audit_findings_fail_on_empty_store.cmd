audit findings --policies policies/model_studio --fail-on suggestion
