"""The look's HTTP side through the Django test client: the theme preference, GET /rooms/, and
texts that read right in Korean."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from rooms import writes

pytestmark = pytest.mark.django_db
KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}


def html_theme(client: Client) -> str | None:
    match = re.search(r"<html[^>]*\bdata-theme=\"([a-z]+)\"", client.get("/").content.decode())
    return match.group(1) if match else None


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_choosing_a_theme_stores_it_in_the_session_and_goes_back(client, theme):
    room = writes.get_or_create_room("한국어 방")[0]
    response = client.post("/preferences/theme/", {"theme": theme, "next": room.get_absolute_url()})
    assert response.status_code == 302
    assert response["Location"] == room.get_absolute_url()
    assert html_theme(client) == theme
    assert f'data-theme="{theme}"' in client.get(room.get_absolute_url()).content.decode()


def test_auto_forgets_the_choice(client):
    client.post("/preferences/theme/", {"theme": "dark", "next": "/"})
    assert html_theme(client) == "dark"
    response = client.post("/preferences/theme/", {"theme": "auto", "next": "/"})
    assert response.status_code == 302
    assert html_theme(client) is None


@pytest.mark.parametrize("value", ["", "blue", "dark; x", "DARK"])
def test_a_theme_that_is_not_offered_is_refused_and_changes_nothing(client, value):
    client.post("/preferences/theme/", {"theme": "light", "next": "/"})
    response = client.post("/preferences/theme/", {"theme": value, "next": "/"})
    assert response.status_code == 400
    assert html_theme(client) == "light"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", ""])
def test_the_theme_redirect_stays_on_this_site(client, next_url):
    response = client.post("/preferences/theme/", {"theme": "dark", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_the_theme_form_needs_post_and_csrf():
    assert Client().get("/preferences/theme/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/preferences/theme/", {"theme": "dark", "next": "/"}).status_code == 403


def test_every_page_offers_the_theme_choice_with_the_current_one_pressed(client):
    html = client.get("/").content.decode()
    form = re.search(r'<form[^>]*action="/preferences/theme/".*?</form>', html, re.S)
    assert form, "the header holds the theme form"
    assert "csrfmiddlewaretoken" in form.group(0)
    assert re.search(r'value="auto"[^>]*aria-pressed="true"', form.group(0))
    client.post("/preferences/theme/", {"theme": "dark", "next": "/"})
    form = re.search(r'<form[^>]*action="/preferences/theme/".*?</form>', client.get("/").content.decode(), re.S)
    assert form and re.search(r'value="dark"[^>]*aria-pressed="true"', form.group(0))


def test_get_rooms_is_the_lobby_not_a_blank_405(client):
    response = client.get("/rooms/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/rooms/", follow=True).status_code == 200


def test_the_korean_too_long_error_says_its_sentence_once(client):
    room = writes.get_or_create_room("long")[0]
    response = client.post(room.get_absolute_url() + "messages/", {"message": "x" * 4001}, **KOREAN)
    assert response.status_code == 400
    error = re.search(r'<div id="chat-error"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    assert error
    text = error.group(1)
    assert text.count("4000") == 1 and text.count("4001") == 1, text
    assert text.count("최대") == 1 and text.count("입니다") == 1, text


@pytest.mark.parametrize(("accept", "title"), [("en", "Rooms"), ("ko", "방 목록")])
def test_the_lobby_title_matches_its_heading(client, accept, title):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert re.search(r"<title>\s*" + title + r" · ", html)
    assert re.search(r"<h1[^>]*>\s*" + title + r"\s*</h1>", html)


def test_the_korean_header_says_madang_once(client):
    html = client.get("/", **KOREAN).content.decode()
    header = re.search(r'<a class="site-name"[^>]*>(.*?)</a>', html, re.S)
    assert header and header.group(1).count("마당") == 1, header and header.group(1)
    english = re.search(r'<a class="site-name"[^>]*>(.*?)</a>', client.get("/").content.decode(), re.S)
    assert english and "Madang" in english.group(1) and english.group(1).count("마당") == 1
