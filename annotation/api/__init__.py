"""The REST API under /api/v1/ (DRF): one view per action with its serializers, the token
authentication, and the one exception handler that turns a broken rule into 400/403/404/409."""
