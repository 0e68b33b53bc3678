"""`fastnn serve` in a real browser: headless Chromium draws MNIST digits with the mouse.

Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/run) are driven with Selenium. The
strokes are the skeletons of the first two MNIST test digits of each class, kept in
tests/data/strokes.json (made by tests/data/make_strokes.py). The network is trained here, in a
few seconds: 784-128-10, two epochs of per-sample SGD on the 60,000 training images.

Set FASTNN_SERVE_SCREENSHOT=docs/serve.png to write the README's screenshot from this run.
"""
import json
import os
import pathlib
import shutil
import threading

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import fastnn
from fastnn.cli.common import scores_of
from fastnn.server import make_server

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
STROKES = json.loads((pathlib.Path(__file__).parent / "data" / "strokes.json").read_text())
WAIT = 20  # seconds any one page update may take

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def model(mnist):
    (X, y), _ = mnist
    params, _ = fastnn.train(fastnn.init_params([784, 128, 10], seed=0), X, y, epochs=2,
                             lr=lambda e: 0.02 / (1 + e), seed=0)
    return params, {"activation": "relu", "output_activation": "softmax"}


@pytest.fixture(scope="module")
def url(model):
    params, meta = model
    server = make_server(params, [str(k) for k in range(10)], wiring=meta,
                         host="127.0.0.1", port=0, title="model.npz")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def overflowing_url(model):
    """A network whose weights are finite but whose outputs overflow (3e38 everywhere)."""
    params, meta = model
    huge = {key: np.full_like(value, 3e38) for key, value in params.items()}
    server = make_server(huge, [str(k) for k in range(10)], wiring=meta, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    for program in (CHROMIUM, CHROMEDRIVER):
        assert os.access(program, os.X_OK), f"{program} is missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # a 740 x 500 viewport, whatever the window's frame takes
    driver.set_window_size(740, 500)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(740 + 740 - inner[0], 500 + 500 - inner[1])
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, url):
    browser.get(url)
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "pad").is_displayed())
    return browser


def draw(driver, strokes):
    """Draw ``strokes`` ([[x, y], ...] in pad pixels) with the mouse, then wait for the answer to the drawing."""
    pad = driver.find_element(By.ID, "pad")
    half = pad.size["width"] / 2, pad.size["height"] / 2  # offsets are taken from the element's centre
    for stroke in strokes:
        actions = ActionChains(driver, duration=0)
        points = [(round(x), round(y)) for x, y in stroke]
        actions.move_to_element_with_offset(pad, round(points[0][0] - half[0]), round(points[0][1] - half[1]))
        actions.click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            actions.move_by_offset(x1 - x0, y1 - y0)
        actions.release().perform()
    return wait_for_answer(driver)


def wait_for_answer(driver):
    def settled(d):
        body = d.find_element(By.TAG_NAME, "body")
        return (body.get_attribute("data-state") == "idle"
                and body.get_attribute("data-answered") == body.get_attribute("data-drawn"))

    WebDriverWait(driver, WAIT, poll_frequency=0.02).until(settled)
    return driver.find_element(By.ID, "answer").text


def probabilities(driver):
    """``{class name: percentage}`` as the page's table shows them."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#probs tr'),"
        " (r) => [r.querySelector('.name').textContent, r.querySelector('.value').textContent]);")
    return {name: float(value.rstrip("%")) for name, value in rows}


def clear(driver):
    driver.find_element(By.ID, "clear").click()
    return wait_for_answer(driver)


def test_drawn_digits_are_read(page):
    said = []
    for digit in STROKES["digits"]:
        answer = draw(page, digit["strokes"])
        said.append(answer)
        shown = probabilities(page)
        assert sorted(shown, key=int) == [str(k) for k in range(10)]
        assert sum(shown.values()) == pytest.approx(100, abs=0.6)  # ten values of one decimal
        assert max(shown, key=shown.get) == answer
        clear(page)
    right = sum(answer == str(d["label"]) for answer, d in zip(said, STROKES["digits"]))
    print(f"{right} of {len(said)} drawn digits read right: {said}")
    assert right >= 0.8 * len(said), list(zip([d["label"] for d in STROKES["digits"]], said))


def test_the_page_shows_the_28x28_image_the_network_saw(page, model):
    digit = STROKES["digits"][6]  # a 3
    draw(page, digit["strokes"])
    pixels = page.execute_script(
        "const d = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;"
        "return Array.from(d).filter((v, i) => i % 4 === 0);")
    seen = np.array(pixels, dtype=np.float64).reshape(28, 28) / 255
    assert seen.max() == 1 and 0.05 < (seen > 0.2).mean() < 0.5   # white ink on black, not empty
    rows, cols = np.indices(seen.shape)
    centre = (rows * seen).sum() / seen.sum(), (cols * seen).sum() / seen.sum()
    assert np.allclose(centre, 14, atol=1.0)                       # centred by its centre of mass
    ink = np.argwhere(seen > 0.05)
    assert max(np.ptp(ink, axis=0)) + 1 <= 21                      # scaled into the 20x20 box
    # what the network answered is what it gives for exactly that image
    params, meta = model
    assert page.find_element(By.ID, "answer").text == str(int(np.argmax(scores_of(params, meta, seen))))


def test_the_answer_comes_while_the_stroke_is_still_being_drawn(page):
    pad = page.find_element(By.ID, "pad")
    strokes = STROKES["digits"][0]["strokes"]  # a 0: one closed stroke
    points = [(round(x - 140), round(y - 140)) for x, y in strokes[0]]
    actions = ActionChains(page, duration=0).move_to_element_with_offset(pad, *points[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        actions.move_by_offset(x1 - x0, y1 - y0)
    actions.perform()  # the button is still held down
    assert page.execute_script("return last !== null;")
    assert wait_for_answer(page) == "0"
    assert len(probabilities(page)) == 10
    ActionChains(page, duration=0).release().perform()
    assert page.execute_script("return last === null;")


def test_a_finger_draws_as_the_mouse_does(page):
    digit = STROKES["digits"][14]  # a 7
    by_mouse = draw(page, digit["strokes"])
    mouse_image = page.execute_script("return document.getElementById('seen').toDataURL();")
    clear(page)
    page.execute_script("window.kinds = new Set();"
                        "document.getElementById('pad').addEventListener('pointerdown',"
                        " (e) => window.kinds.add(e.pointerType));")
    pad = page.find_element(By.ID, "pad")
    for stroke in digit["strokes"]:
        finger = ActionBuilder(page, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"), duration=0)
        points = [(round(x - 140), round(y - 140)) for x, y in stroke]
        finger.pointer_action.move_to(pad, *points[0]).pointer_down()
        for x, y in points[1:]:
            finger.pointer_action.move_to(pad, x, y)
        finger.pointer_action.pointer_up()
        finger.perform()
    assert wait_for_answer(page) == by_mouse == "7"
    assert page.execute_script("return Array.from(window.kinds);") == ["touch"]
    assert page.execute_script("return document.getElementById('seen').toDataURL();") == mouse_image


def test_clear_button_empties_the_pad_and_the_answer(page):
    assert draw(page, STROKES["digits"][2]["strokes"]) != "–"
    assert clear(page) == "–"
    assert page.find_elements(By.CSS_SELECTOR, "#probs tr") == []
    ink = page.execute_script(
        "const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data;"
        "let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++; return dark;")
    assert ink == 0
    assert draw(page, STROKES["digits"][2]["strokes"]) == draw(page, []) != "–"  # and it draws again


def test_a_broken_request_gets_a_json_error_and_the_page_goes_on(page):
    results = page.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const send = (body) => fetch("predict", {method: "POST", body: body})
            .then(async (r) => [r.status, (await r.json()).error]);
        Promise.all([send("{broken"), send('{"width": 140, "height": 140, "pixels": [1, 2, 3]}')])
            .then(done, (e) => done(String(e)));
    """)
    assert results[0][0] == 400 and "malformed JSON" in results[0][1]
    assert results[1][0] == 400 and "19600 values, got 3" in results[1][1]
    assert draw(page, STROKES["digits"][14]["strokes"]) != "–"  # the server still answers the page


def test_a_model_that_overflows_is_reported_on_the_page(browser, overflowing_url):
    """Its NaN scores once came as 200 with a body that is not JSON, and the page said nothing useful."""
    browser.get(overflowing_url)
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "pad").is_displayed())
    assert draw(browser, STROKES["digits"][14]["strokes"]) == "–"  # no answer shown
    status = browser.find_element(By.ID, "status")
    assert "not finite" in status.text and status.get_attribute("class") == "error"


def test_screenshot_of_the_page(page, tmp_path):
    draw(page, STROKES["digits"][14]["strokes"])  # a 7
    target = pathlib.Path(os.environ.get("FASTNN_SERVE_SCREENSHOT") or tmp_path / "serve.png")
    assert page.save_screenshot(str(tmp_path / "shot.png"))
    from PIL import Image

    with Image.open(tmp_path / "shot.png") as shot:
        gray = np.asarray(shot.convert("L"), dtype=np.float64)
    assert shot.size == (740, 500) and gray.std() > 20
    if target != tmp_path / "serve.png":
        shutil.copyfile(tmp_path / "shot.png", target)
