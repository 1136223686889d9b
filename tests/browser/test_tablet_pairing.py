"""Pairing a room tablet by its camera, in a real browser.

The admin makes a pairing code; the page shows it and a QR code of the pairing address with
the code in the fragment. The QR code is read off a screenshot (zxing-cpp, as a camera app
would), the "tablet" (a fresh browser context, no login) opens what it says, finds the code
filled in and gone from the address bar, and pairs.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from dashboard import create_app
from dashboard.auth import create_user
from dashboard.db import upgrade
from dashboard.seed import seed_demo

PASSWORD = "correct horse battery"
SITE = "pairing-clinic"


@pytest.fixture
def base(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "SITE": SITE})
    engine = app.extensions["roomvitals.engine"]
    with Session(engine) as db, db.begin():
        create_user(db, "admin.kim", "admin", PASSWORD, "Kim Admin")
        seed_demo(db, SITE)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        engine.dispose()


def read_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, f"{len(found)} codes in the screenshot"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def test_a_tablet_pairs_from_the_qr_code_on_the_admins_screen(base, browser):
    admin = browser.new_context()
    tablet = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = admin.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "admin.kim")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/admin/tablets/")
        page.select_option("select#room", label="exam-2")
        page.fill("input#label", "wall")
        page.click("text=Make a pairing code")
        code = page.text_content("#pairing-code").strip()
        address = read_qr(page.locator("#pairing-qr svg").screenshot())
        assert address == f"{base}/tablet/pair#code={code}"

        screen = tablet.new_page()
        sent: list[str] = []
        screen.on("request", lambda request: sent.append(request.url))
        screen.goto(address)
        screen.wait_for_function("document.getElementById('code').value !== ''")
        assert screen.input_value("#code") == code
        assert screen.evaluate("window.location.hash") == ""  # not left in the history
        screen.click("button[type=submit]")
        screen.wait_for_url(f"{base}/tablet/")
        assert "Room free" in screen.text_content("body")
        # The code went to the server in the form body only, never in an address.
        assert not [url for url in sent if code in url]
    finally:
        admin.close()
        tablet.close()
