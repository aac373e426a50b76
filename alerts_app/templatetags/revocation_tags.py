"""Template tags for the response panel included on alert, session and identity pages."""

from django import template

from ..revocation import selectors

register = template.Library()


@register.simple_tag
def revocations_for(*, identity=None, session=None, alert=None):
    """The latest revocations of the alert, else the session, else the identity."""
    return selectors.revocations_for(identity=identity, session=session, alert=alert)
