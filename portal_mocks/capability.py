"""Discovery documents: SMART configuration, OpenID configuration, CapabilityStatement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal_mocks import wire
from portal_mocks.clients import ASSERTION_ALGS
from portal_mocks.profiles import Portal

CAPABILITIES = [
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "permission-patient",
    "permission-offline",
    "permission-v1",
    "permission-v2",
    "sso-openid-connect",
]
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SEARCH_PARAMS = {
    "patient": ("reference", "The patient in context"),
    "_id": ("token", "Logical id"),
    "_lastUpdated": ("date", "When the resource last changed"),
}


class Documents:
    """Discovery bodies as wire JSON, each built and encoded once per key, then reused.

    A key names the document, the portal and the base URL it is built for: every
    input of a discovery document follows from those (and from the runtime the
    holder belongs to), so a kept body never goes stale. Bodies are immutable bytes.
    """

    def __init__(self) -> None:
        self._bodies: dict[tuple[str, ...], bytes] = {}

    def body(self, key: tuple[str, ...], build: Callable[[], Any]) -> bytes:
        found = self._bodies.get(key)
        if found is None:
            found = self._bodies.setdefault(key, wire.encode(build()))
        return found


def endpoints(portal_url: str) -> dict[str, str]:
    return {
        "authorize": f"{portal_url}/authorize",
        "token": f"{portal_url}/token",
        "introspect": f"{portal_url}/introspect",
        "revoke": f"{portal_url}/revoke",
        "register": f"{portal_url}/register",
        "jwks": f"{portal_url}/jwks",
        "manage": f"{portal_url}/",
    }


def scopes_supported(portal: Portal) -> list[str]:
    base = ["openid", "fhirUser", "profile", "launch/patient", "offline_access"]
    if portal.explicit_type_scopes:
        return base + [f"patient/{t}.{p}" for t in portal.resource_types for p in ("read", "rs")]
    return (
        base
        + ["patient/*.read", "patient/*.rs"]
        + [f"patient/{t}.rs" for t in portal.resource_types]
    )


def smart_configuration(portal: Portal, portal_url: str, fhir_base: str) -> dict[str, Any]:
    urls = endpoints(portal_url)
    doc: dict[str, Any] = {
        "issuer": fhir_base,
        "jwks_uri": urls["jwks"],
        "authorization_endpoint": urls["authorize"],
        "token_endpoint": urls["token"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "registration_endpoint": urls["register"],
        "scopes_supported": scopes_supported(portal),
        "response_types_supported": ["code"],
        "management_endpoint": urls["manage"],
        "introspection_endpoint": urls["introspect"],
        "revocation_endpoint": urls["revoke"],
        "capabilities": CAPABILITIES,
    }
    if portal.advertise_pkce_methods:
        doc["code_challenge_methods_supported"] = ["S256"]
    return doc


def openid_configuration(portal: Portal, portal_url: str, fhir_base: str) -> dict[str, Any]:
    urls = endpoints(portal_url)
    return {
        "issuer": fhir_base,
        "authorization_endpoint": urls["authorize"],
        "token_endpoint": urls["token"],
        "jwks_uri": urls["jwks"],
        "registration_endpoint": urls["register"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes_supported(portal),
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "fhirUser", "nonce"],
        "code_challenge_methods_supported": ["S256"],
    }


def capability_statement(
    portal: Portal, portal_url: str, fhir_base: str, display_name: str
) -> dict[str, Any]:
    urls = endpoints(portal_url)
    resources = []
    for rtype in portal.resource_types:
        params = dict(SEARCH_PARAMS)
        if rtype == "Patient":
            params.pop("patient")
        if rtype in ("Observation", "Condition", "DocumentReference", "DiagnosticReport"):
            params["category"] = ("token", "Category code")
        resources.append(
            {
                "type": rtype,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": name, "type": kind, "documentation": doc}
                    for name, (kind, doc) in params.items()
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "id": f"{portal.slug}-capabilities",
        "status": "active",
        "date": "2026-01-01",
        "publisher": display_name,
        "kind": "instance",
        "software": {"name": f"connect-sim {portal.vendor} portal", "version": "1.0"},
        "implementation": {"description": display_name, "url": fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": True,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ],
                            "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
                        }
                    ],
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [
                                {"url": name, "valueUri": urls[name]}
                                for name in (
                                    "authorize",
                                    "token",
                                    "introspect",
                                    "register",
                                    "manage",
                                    "revoke",
                                )
                            ],
                        }
                    ],
                },
                "resource": resources,
            }
        ],
    }
