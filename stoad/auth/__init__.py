"""Layers 1 and 2: OAuth 2.1 resource server with RFC 8705 certificate-bound access tokens.

The chain layer is L{IdentityLayer}; its plugin is C{stoad.auth.plugin.PLUGIN}.
"""

from stoad.auth._http import FetchFailed, bounded_fetch
from stoad.auth._introspection import IntrospectionUnavailable, TokenIntrospector
from stoad.auth._jws import (
    KeySet,
    TokenRejected,
    UnknownKey,
    assert_cryptography_backend,
    parse_compact,
    verify_jws,
)
from stoad.auth._keys import AuthorizationServerMetadata, KeysUnavailable, RemoteKeys, StaticKeys
from stoad.auth._layer import IdentityLayer, metadata_url
from stoad.auth._settings import (
    AuthSettings,
    Consumer,
    ConsumerRegistry,
    RouteAuth,
    load_consumers,
    parse_route,
    parse_settings,
)
from stoad.auth._verify import ClaimRules, JwtVerifier, OpaqueVerifier, VerifiedToken

__all__ = [
    "AuthSettings",
    "AuthorizationServerMetadata",
    "ClaimRules",
    "Consumer",
    "ConsumerRegistry",
    "FetchFailed",
    "IdentityLayer",
    "IntrospectionUnavailable",
    "JwtVerifier",
    "KeySet",
    "KeysUnavailable",
    "OpaqueVerifier",
    "RemoteKeys",
    "RouteAuth",
    "StaticKeys",
    "TokenIntrospector",
    "TokenRejected",
    "UnknownKey",
    "VerifiedToken",
    "assert_cryptography_backend",
    "bounded_fetch",
    "load_consumers",
    "metadata_url",
    "parse_compact",
    "parse_route",
    "parse_settings",
    "verify_jws",
]
