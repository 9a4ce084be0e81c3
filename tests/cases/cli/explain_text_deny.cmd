explain --policies policies/model_studio --entities policies/model_studio/examples/entities.json --request policies/model_studio/examples/requests/nobody-01-pay-order-without-bss-or-management.json
