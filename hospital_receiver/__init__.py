"""The hospital receiver: takes the fleet's records off the broker into the hospital's database.

It subscribes to every device's records (an MQTT 5 shared subscription, so several receivers
share the load), validates each batch, upserts its records idempotently on their identity
(device, boot epoch, sequence), commits, and only then acknowledges - the acknowledgement is
the device's only proof that a record is safe (invariant 2). It watches each device's sequence
for gaps and asks the device to resend what is missing.
"""
