"""SIP trunk provisioning: validated PJSIP trunks and inbound routes rendered for Asterisk,
written atomically, reloaded over ARI with verification and rollback, and trunk status."""

from provisioning.ami import AmiConnection, AmiError
from provisioning.asterisk_api import AsteriskAri
from provisioning.models import InboundRoute, Trunk, TrunkConfig
from provisioning.naming import TrunkObjectNames, object_names
from provisioning.reload import EndpointInspector, ReloadCoordinator, ReloadResult, apply_trunks
from provisioning.render import (
    DIALPLAN_FILENAME,
    INBOUND_CONTEXT,
    PJSIP_FILENAME,
    render_all,
)
from provisioning.status import TrunkStatus, trunk_status
from provisioning.validation import (
    InvalidTrunkError,
    ValidationError,
    validate_trunk,
    validate_trunks,
)

__all__ = [
    "DIALPLAN_FILENAME",
    "INBOUND_CONTEXT",
    "PJSIP_FILENAME",
    "AmiConnection",
    "AmiError",
    "AsteriskAri",
    "EndpointInspector",
    "InboundRoute",
    "InvalidTrunkError",
    "ReloadCoordinator",
    "ReloadResult",
    "Trunk",
    "TrunkConfig",
    "TrunkObjectNames",
    "TrunkStatus",
    "ValidationError",
    "apply_trunks",
    "object_names",
    "render_all",
    "trunk_status",
    "validate_trunk",
    "validate_trunks",
]
