"""Events: the CloudEvent contract, the routing table read from the Knative manifests, and the two
local transports (in-process bus, RabbitMQ laid out like eventing-rabbitmq)."""
