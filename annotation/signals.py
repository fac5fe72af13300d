"""What annotation tells the other apps, which it may not import (they build on it)."""

from django.dispatch import Signal

# Sent inside the transaction that records a withdrawal of consent, with `campaign_id`,
# `user_id` and `at`: whatever holds the person's data outside the judgments tables (export
# files) answers for it in the same transaction.
consent_withdrawn = Signal()
