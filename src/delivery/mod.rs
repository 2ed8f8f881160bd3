//! Delivering the event journal to consumers beyond the cursor API: signed outgoing webhooks and
//! NATS JetStream. (Being filled in by the delivery work.)
