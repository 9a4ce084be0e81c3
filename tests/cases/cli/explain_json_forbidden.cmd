explain --policies policies/model_studio --entities policies/model_studio/examples/entities.json --request policies/model_studio/examples/requests/user-01-call-unauthorized-model.json --format json
