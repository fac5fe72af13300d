"""API tokens: made with a password, revoked with themselves."""

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import services
from annotation.api.serializers import (
    ERROR,
    TokenIn,
    TokenOut,
)
from annotation.models import ApiToken
from webapp.middleware import UntrustedJSONParser


class TokenApi(APIView):
    """Make an API token with a password; revoke the token a request came with."""

    parser_classes = [UntrustedJSONParser, FormParser, MultiPartParser]

    def _obtaining(self) -> bool:
        # The schema generator asks without a request.
        return getattr(self.request, "method", None) == "POST"

    def get_permissions(self) -> Any:
        return [AllowAny()] if self._obtaining() else super().get_permissions()

    def get_authenticators(self) -> Any:
        # Obtaining a token needs only the password: no session, so no CSRF check either.
        return [] if self._obtaining() else super().get_authenticators()

    @extend_schema(
        request=TokenIn,
        responses={200: TokenOut, 400: ERROR},
        summary="Make an API token",
        description="Each call makes a new token; its key is in this answer only (Agora keeps "
        "a hash). Send it as `Authorization: Token <key>`.",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with the given credentials."]}
            )
        token, key = services.api_token_create(user=user, name=data.validated_data.get("name", ""))
        return Response({"token": key, "id": token.id, "prefix": token.prefix})

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="Revoked."), 400: ERROR},
        summary="Revoke the token this request is authenticated with",
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.ValidationError("Authenticate with the token to revoke.")
        services.api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
