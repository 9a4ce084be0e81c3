explain --policies policies/model_studio --entities policies/model_studio/examples/entities.json --request policies/model_studio/examples/requests/sysadmin-01-view-system-admin.json
