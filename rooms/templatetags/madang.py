"""Template filters of our own."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from rooms import links, mentions
from rooms.links import Part
from rooms.models import Message

register = template.Library()


@register.filter
def css_string(value: object) -> SafeString:
    """``value`` as a quoted CSS string, for the per-viewer <style> (words from translations).

    Everything but letters, digits and spaces is written as a CSS escape, so no value can close
    the string, the rule or the <style> element; HTML escaping would not do here (a <style>
    element's text is not HTML-decoded)."""
    escaped = "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in str(value))
    return mark_safe(f'"{escaped}"')  # noqa: S308 - every character that is not alphanumeric is CSS-escaped


@register.filter
def text_parts(value: str) -> list[Part]:
    """A message's text as plain and link parts (rooms.links); the template writes each one."""
    return links.text_parts(value)


@register.filter
def message_parts(message: Message) -> list[Part]:
    """A message's text as plain, link and mention parts (rooms.links, rooms.mentions)."""
    return mentions.marked(links.text_parts(message.text), message.mentions)
