"""The annotator's pages in the annotator's language: the browser's (Accept-Language), or the
one their profile names, which wins on any browser."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from annotation.models import Profile
from annotation.services import membership_add
from tests.browser.conftest import log_in, screenshot, task_path

LOCALE = Path(settings.BASE_DIR) / "locale"


def test_a_spanish_browser_gets_the_pages_in_spanish(open_page, alice, kind_campaign):
    campaign = kind_campaign("critique", n=2)
    campaign.name = "Plantas: critica la respuesta"  # campaign data, written by its admin
    campaign.save(update_fields=["name"])
    page = open_page("phone", locale="es-ES")

    page.goto("/accounts/login/")
    expect(page.locator("h1")).to_have_text("Iniciar sesión")
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_label("Contraseña")).to_be_visible()
    screenshot(page, "es-login-phone")
    log_in(page, alice)
    expect(page.locator("h1")).to_have_text("Tus campañas")

    page.goto(task_path(campaign))
    expect(page.get_by_test_id("progress")).to_have_text("Hechas: 0 · Disponibles: 2")
    expect(page.locator("#judge button.primary")).to_contain_text("Enviar")
    expect(page.locator("#skip-button")).to_contain_text("Omitir")
    # agora.js speaks the page's language too.
    toggle = page.locator("[data-raw-toggle]")
    expect(toggle).to_have_text("Ver texto sin formato")
    toggle.click()
    expect(toggle).to_have_text("Ver con formato")
    toggle.click()
    screenshot(page, "es-task-critique-phone")

    page.keyboard.press("c")
    page.keyboard.type("Le falta decir que la planta también necesita agua.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#task .notice")).to_have_text("Guardado.")
    expect(page.get_by_test_id("progress")).to_have_text("Hechas: 1 · Disponibles: 1")


def test_the_profiles_language_wins_over_the_browsers(open_page, alice, bob, kind_campaign):
    campaign = kind_campaign("pairwise", n=2)
    membership_add(campaign=campaign, user=bob)
    Profile.objects.create(user=alice, answers={"language": "es", "age": "30-39"})

    page = open_page(locale="en-US")
    log_in(page, alice, next_path=task_path(campaign))
    expect(page.locator("#judge legend").first).to_contain_text("Which response is better?")
    expect(page.locator("#judge label.choice").first).to_contain_text("A es mejor")
    assert page.locator("html").get_attribute("lang") == "es"

    other = open_page(locale="en-US")
    log_in(other, bob, next_path=task_path(campaign))
    expect(other.locator("#judge label.choice").first).to_contain_text("A is better")
    assert other.locator("html").get_attribute("lang") == "en"


MSGFMT = shutil.which("msgfmt")


@pytest.mark.skipif(MSGFMT is None, reason="needs GNU gettext's msgfmt")
def test_the_committed_catalogs_are_compiled_from_their_sources(tmp_path):
    # The .mo files are committed so no tool is needed at run time; this catches a .po edited
    # without `manage.py compilemessages`.
    catalogs = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
    assert catalogs
    for po in catalogs:
        fresh = tmp_path / f"{po.parent.parent.name}.mo"
        subprocess.run([str(MSGFMT), "--check-format", "-o", str(fresh), str(po)], check=True)
        with fresh.open("rb") as a, po.with_suffix(".mo").open("rb") as b:
            assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog
