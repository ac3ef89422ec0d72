"""The errors of RBAC policies, in Neutron's names, status codes and messages (``neutron/extensions/rbac.py``,
``neutron/db/rbac_db_models.py``)."""

from __future__ import annotations

from floatnet.core.errors import Conflict, InvalidInput, NotFound


class RbacPolicyNotFound(NotFound):
    message_template = "RBAC policy of type %(object_type)s with ID %(id)s not found"


class RbacPolicyInUse(Conflict):
    message_template = (
        "RBAC policy on object %(object_id)s cannot be removed because other objects depend on it.\n"
        "Details: %(details)s"
    )


class DuplicateRbacPolicy(Conflict):
    message_template = "An RBAC policy already exists with those values."


class InvalidActionForType(InvalidInput):
    message_template = "Invalid action '%(action)s' for object type '%(object_type)s'. Valid actions: %(valid_actions)s"
