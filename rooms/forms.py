"""The only validation: the same forms check what arrives over HTTP and over the WebSocket."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from rooms import text

NAME_ERRORS = {
    "empty": _("Enter a name."),
    "control_chars": _("Names cannot contain control characters."),
    "bidi_controls": _("Names cannot contain text-direction override characters."),
}


class TextField(forms.CharField):
    """A CharField whose NUL check is ours: ``rooms.text`` reports NUL with every other control
    character, under the one code ``control_chars``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


def _clean_name_field(value: str, max_length: int) -> str:
    cleaned = text.clean_name(value)
    problem = text.name_problem(cleaned)
    if problem:
        raise forms.ValidationError(NAME_ERRORS[problem], code=problem)
    if len(cleaned) > max_length:
        raise forms.ValidationError(
            _("Use at most %(limit)d characters (this has %(length)d)."),
            code="too_long",
            params={"limit": max_length, "length": len(cleaned)},
        )
    return cleaned


class RoomForm(forms.Form):
    name = TextField(
        label=_("Room name"),
        strip=False,
        required=False,  # emptiness is checked after trimming, with the code "empty"
        # The real limit is checked after trimming and normalising; this only bounds the work.
        max_length=1000,
        error_messages={"max_length": _("That name is far too long.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("한국어 방, lobby, 🎉 party…")}),
    )

    def clean_name(self) -> str:
        return _clean_name_field(self.cleaned_data["name"], settings.ROOMS_ROOM_NAME_MAX_LENGTH)


class DisplayNameForm(forms.Form):
    display_name = TextField(
        label=_("Your name"),
        strip=False,
        required=False,
        max_length=1000,
        error_messages={"max_length": _("That name is far too long.")},
    )

    def clean_display_name(self) -> str:
        return _clean_name_field(self.cleaned_data["display_name"], settings.ROOMS_DISPLAY_NAME_MAX_LENGTH)


MESSAGE_ERRORS = {
    "empty": _("Type a message first."),
    "too_long": _("Messages can be at most %(limit)d characters; this one has %(length)d."),
    "control_chars": _("That message contains characters that cannot be sent."),
    "bad_type": _("The message must be text."),
}


class CodedErrors:
    """The first error of a form as a stable code (for ``data-error``) and a sentence."""

    errors: Any

    def error_code(self) -> str:
        """The machine-readable code of the first error, for the ``data-error`` attribute."""
        for errors in self.errors.as_data().values():
            for error in errors:
                return error.code or "invalid"
        return "invalid"

    def error_text(self) -> str:
        for errors in self.errors.values():
            for message in errors:
                return str(message)
        return ""


class ConfirmForm(CodedErrors, forms.Form):
    """A confirmation with no fields (delete): where a refusal of the whole action is shown."""


class MessageForm(CodedErrors, forms.Form):
    """A message to post. ``nonce`` is the composer's one-time token (optional for scripts)."""

    message = TextField(strip=False, required=False)
    nonce = forms.CharField(required=False, max_length=64)

    def clean_message(self) -> str:
        value = self.cleaned_data["message"].strip()
        problem = text.message_problem(value)
        if problem:
            raise forms.ValidationError(MESSAGE_ERRORS[problem], code=problem)
        limit = settings.ROOMS_MESSAGE_MAX_LENGTH
        if len(value) > limit:
            raise forms.ValidationError(
                MESSAGE_ERRORS["too_long"], code="too_long", params={"limit": limit, "length": len(value)}
            )
        return value

    @classmethod
    def from_frame(cls, data: dict[str, Any]) -> MessageForm:
        """Bind the fields a WebSocket frame carries; anything that is not a string is refused."""
        fields = {name: data[name] for name in ("message", "nonce") if name in data}
        form = cls(data={k: v for k, v in fields.items() if isinstance(v, str)})
        form.full_clean()
        for name, value in fields.items():
            if not isinstance(value, str):
                form.errors.pop(name, None)  # "wrong type" says more than "empty"
                form.add_error(name, forms.ValidationError(MESSAGE_ERRORS["bad_type"], code="bad_type"))
        return form


class ReactionForm(CodedErrors, forms.Form):
    """An emoji to toggle on a message: one of ``ROOMS_REACTION_PALETTE``."""

    emoji = forms.CharField(max_length=16, error_messages={"required": _("Choose a reaction.")})

    def clean_emoji(self) -> str:
        emoji = self.cleaned_data["emoji"]
        if emoji not in settings.ROOMS_REACTION_PALETTE:
            raise forms.ValidationError(_("That reaction is not offered here."), code="bad_reaction")
        return emoji


class TypingForm(forms.Form):
    """A typing frame's ``typing``: JSON true/false, or "1"/"0" as the page's #typing-form sends it
    (also "true"/"false"). Anything else (a number, an object, null) is invalid: ``bad_type``."""

    typing = forms.TypedChoiceField(
        choices=[(value, value) for value in ("1", "0", "true", "false", "True", "False")],
        coerce=lambda value: value in ("1", "true", "True"),
    )

    @classmethod
    def from_frame(cls, data: dict[str, Any]) -> TypingForm:
        value = data.get("typing")
        # Only true/false/0/1 and strings: str() of anything else (7, {}, None) is no choice.
        return cls(data={"typing": value if isinstance(value, (bool, int, str)) else object()})


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)
