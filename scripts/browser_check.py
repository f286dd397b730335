"""Drives the privacy centre (/p/{token}) and a web-to-lead form (/f/{key}) in headless Chromium
as a person would, against a running server, and saves a screenshot of each step.

Usage: browser_check.py BASE_URL ADMIN_KEY SCREENSHOT_DIR [FRONTEND_PORT]
With FRONTEND_PORT (an origin the server allows with CUSTODIAN_CORS_ORIGINS), a page served from
that port calls the API from the browser, and one from a port not on the list is refused.
Seeds what it needs through the API (policies, a purpose, a lead with a consent and a link, a
form), checks each step's outcome on the page and through the API, and exits non-zero on the
first thing that is not as a person should see it.
"""

import http.server
import json
import os
import sys
import threading
import time
import urllib.request
from urllib.error import HTTPError

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, KEY, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
FRONTEND_PORT = int(sys.argv[4]) if len(sys.argv) > 4 else None
os.makedirs(SHOTS, exist_ok=True)
DOWNLOADS = os.path.join(SHOTS, "downloads")
os.makedirs(DOWNLOADS, exist_ok=True)
MARK = str(int(time.time() * 1000))[-8:]


def api(method, path, body=None):
    request = urllib.request.Request(BASE + path, method=method, headers={"Authorization": "Bearer " + KEY})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data) as response:
            text = response.read().decode()
            return json.loads(text) if text else None
    except HTTPError as error:
        raise SystemExit(f"{method} {path} -> {error.code}: {error.read().decode()}")


class Mailer(http.server.BaseHTTPRequestHandler):
    """The company's mailer: receives the webhooks that carry links to mail, and keeps them."""
    received = []
    url = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Mailer.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_mailer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mailer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Mailer.url = f"http://127.0.0.1:{server.server_address[1]}/mailer"
    return Mailer.url


class Frontend(http.server.BaseHTTPRequestHandler):
    """A browser frontend on another origin: an empty page whose scripts call the API."""

    def do_GET(self):
        body = b"<!doctype html><html><head><title>frontend</title></head><body>frontend</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_frontend(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Frontend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


# Runs in the frontend's page: a create with Idempotency-Key (a preflighted request) whose
# Location the script reads, then that record read with its ETag. The result, or the error.
CROSS_ORIGIN_CALLS = """
const [api, key, name, done] = arguments;
(async () => {
  const created = await fetch(api + "/v1/leads", {method: "POST", headers: {
    "Authorization": "Bearer " + key, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID()},
    body: JSON.stringify({name})});
  const location = created.headers.get("Location");
  if (!location) return done({created: created.status, body: await created.text()});
  const read = await fetch(api + location, {headers: {"Authorization": "Bearer " + key}});
  done({created: created.status, location, read: read.status, etag: read.headers.get("ETag"), name: (await read.json()).name});
})().catch(error => done({error: String(error)}));
"""


def check(condition, what):
    if not condition:
        raise SystemExit("browser check failed: " + what)
    print("  ok:", what)


# What a controller would have set up.
api("PATCH", "/v1/settings/consent", {"controller_name": "Beispiel GmbH"})
api("PATCH", "/v1/settings/controller", {
    "address": "Musterstraße 1, 10115 Berlin", "email": "datenschutz@beispiel.example", "dpo_name": "Dana Daten",
    "dpo_email": "dsb@beispiel.example", "supervisory_authority_name": "Berliner Beauftragte für Datenschutz und Informationsfreiheit",
    "supervisory_authority_url": "https://www.datenschutz-berlin.de"})
api("POST", "/v1/retention-policies", {"name": "Leads", "subject_type": "lead", "inactive_months": 24, "active": True})
for kind, de_title, en_title in [("terms", "Nutzungsbedingungen", "Terms of use"), ("privacy", "Datenschutzerklärung", "Privacy policy")]:
    api("POST", f"/v1/policies/{kind}/versions", {"texts": [
        {"language": "de", "title": de_title, "body": f"{de_title} der Beispiel GmbH.\n\nWir behandeln Ihre Daten sorgfältig."},
        {"language": "en", "title": en_title, "body": f"{en_title} of Beispiel GmbH.\n\nWe handle your data with care."},
    ]})
purpose = api("POST", "/v1/consent-purposes", {
    "name": "Newsletter", "description": "Monthly news about our products, by email.", "lawful_basis": "consent", "applies_to": "both"})
lead = api("POST", "/v1/leads", {"name": "Greta Beispiel", "company": "Beispiel Handel", "email": f"greta{MARK}@example.org",
                                 "phone": "+49 30 1234567", "source": "trade fair"})
api("POST", f"/v1/leads/{lead['id']}/consents", {"purpose_id": purpose["id"], "action": "give"})
link = api("POST", f"/v1/leads/{lead['id']}/consent-link")
token = link["url"].rstrip("/").split("/")[-1]
check(link["url"].startswith(BASE + "/p/"), "the personal link points at the privacy centre page")
form = api("POST", "/v1/forms", {
    "name": "Kontakt / Contact", "fields": ["name", "email", "company", "description"], "required_fields": ["name", "email"],
    "purposes": [purpose["id"]], "requires_terms": True, "requires_privacy": True,
    "thank_you": "Danke! Wir melden uns. / Thank you, we will be in touch.", "source": "website"})

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=de-DE", "--window-size=1280,900"]:
    options.add_argument(argument)
options.add_experimental_option("prefs", {
    "intl.accept_languages": "de-DE,de",
    "download.default_directory": DOWNLOADS,
    "download.prompt_for_download": False,
})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
step = 0


def shot(name):
    global step
    step += 1
    # The whole page, not only the window.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    driver.set_window_size(max(width, driver.get_window_size()["width"]), height + 150)
    path = os.path.join(SHOTS, f"{step:02d}-{name}.png")
    driver.save_screenshot(path)
    print("  screenshot:", path)


def text():
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for(phrase):
    """Waits for the page a click or submit loads to show `phrase`; its text then."""
    def shown(_):
        try:
            return phrase in text()
        except WebDriverException:
            return False
    try:
        WebDriverWait(driver, 10).until(shown)
    except TimeoutException:
        pass
    return text()


try:
    centre = f"{BASE}/p/{token}"
    driver.get(centre)
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de", "the browser's German is served")
    check("Ihr Datenschutz-Center" in text() and "Greta Beispiel" in text(), "the centre greets the person in German")
    check("Beispiel GmbH" in text() and "trade fair" in text(), "the controller and the data's source are named")
    check("Dana Daten" in text() and "Berliner Beauftragte" in text(), "the data protection officer and the authority are named")
    check("wenn seit 2 Jahren keine Aktivität stattfand" in text(), "the retention is written from the policy, in German")
    shot("centre-de")

    driver.get(centre + "?lang=en")
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", "?lang=en overrides the browser")
    check("Your privacy centre" in text() and "Your rights" in text(), "the centre in English")
    shot("centre-en")

    phone = driver.find_element(By.ID, "field-phone")
    check(driver.find_element(By.CSS_SELECTOR, "label[for=field-phone]").text == "Phone", "the phone field has its label")
    phone.clear()
    phone.send_keys("+49 30 7654321")
    phone.find_element(By.XPATH, "ancestor::form").submit()
    check("Your corrections are saved." in wait_for("Your corrections are saved."), "the correction is confirmed")
    check(api("GET", f"/v1/leads/{lead['id']}")["phone"] == "+49 30 7654321", "the correction is stored")
    corrections = api("GET", f"/v1/leads/{lead['id']}/corrections")["data"]
    check([c["field"] for c in corrections] == ["phone"] and corrections[0]["corrected_by"] == "person",
          "the correction is recorded as the person's")
    shot("corrected")

    # A new email counts once confirmed through the link mailed to it (the mailer is a webhook
    # on the inside, allowed by CUSTODIAN_WEBHOOK_ALLOWED_NETWORKS).
    api("POST", "/v1/webhooks", {"url": start_mailer(), "events": ["person.email_confirmation_requested"]})
    new_email = f"greta.neu{MARK}@example.org"
    email = driver.find_element(By.ID, "field-email")
    email.clear()
    email.send_keys(new_email)
    email.find_element(By.XPATH, "ancestor::form").submit()
    check("We sent a link to your new email address." in wait_for("We sent a link"), "the page says a link went to the new address")
    check(api("GET", f"/v1/leads/{lead['id']}")["email"] == f"greta{MARK}@example.org", "the email is not changed yet")
    shot("email-link-sent")
    for _ in range(150):
        if Mailer.received:
            break
        time.sleep(0.1)
    check(len(Mailer.received) == 1, "the mailer received the confirmation link")
    mail = Mailer.received[0]["data"]
    check(mail["email"] == new_email and mail["link"].startswith(BASE + "/confirm-email?token="), "it is addressed to the new email")
    driver.get(mail["link"])
    # The person's browser speaks German, and so does the page the mail leads to.
    check("Neue E-Mail-Adresse bestätigen" in text(), "the link asks (in German) before it changes anything")
    check(api("GET", f"/v1/leads/{lead['id']}")["email"] == f"greta{MARK}@example.org", "opening the link changes nothing")
    shot("email-confirm")
    driver.find_element(By.XPATH, "//button[normalize-space()='Meine neue Adresse bestätigen']").click()
    check("Ihre neue E-Mail-Adresse ist bestätigt." in wait_for("ist bestätigt"), "the confirmation is shown")
    check(api("GET", f"/v1/leads/{lead['id']}")["email"] == new_email, "the new email counts")
    shot("email-confirmed")
    driver.get(centre + "?lang=en")

    driver.find_element(By.XPATH, "//button[normalize-space()='Withdraw consent']").click()
    page = wait_for("Your withdrawal is recorded.")
    check("Your withdrawal is recorded." in page and "Your consent: withdrawn" in page and "Give consent" in page,
          "the withdrawal is confirmed and shown")
    history = api("GET", f"/v1/leads/{lead['id']}/consents")["history"]
    check(history[-1]["action"] == "withdraw" and history[-1]["channel"] == "consent_link", "the withdrawal is in the history")
    shot("consent-withdrawn")

    driver.find_element(By.PARTIAL_LINK_TEXT, "Download my data").click()
    export = None
    for _ in range(100):
        done = [name for name in os.listdir(DOWNLOADS) if name.endswith(".json")]
        if done:
            export = os.path.join(DOWNLOADS, done[0])
            break
        time.sleep(0.1)
    check(export is not None, "the export downloads as a file")
    with open(export) as handle:
        document = json.load(handle)
    check(document["format_version"] == "custodian-export-2" and document["profile"]["name"] == "Greta Beispiel",
          "the download is the person's export")
    shot("export-downloaded")

    Select(driver.find_element(By.ID, "kind")).select_by_value("access")
    driver.find_element(By.ID, "details").send_keys("Please send me everything you hold on me.")
    driver.find_element(By.ID, "details").find_element(By.XPATH, "ancestor::form").submit()
    page = wait_for("Your request is filed.")
    check("Your request is filed." in page and "Access to my data" in page, "the request is confirmed and listed")
    cases = api("GET", f"/v1/requests?subject_id={lead['id']}")["data"]
    check(len(cases) == 1 and cases[0]["kind"] == "access" and cases[0]["channel"] == "link", "the case is open for staff")
    shot("request-filed")

    driver.find_element(By.XPATH, "(//button[normalize-space()='I accept this version'])[1]").click()
    page = wait_for("Your acceptance is recorded.")
    check("Your acceptance is recorded." in page and "You accepted this version." in page, "the policy acceptance")
    shot("policy-accepted")

    driver.set_window_size(390, 844)
    driver.get(centre)
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth, Array.from(document.querySelectorAll('body *'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + ' ' + e.getBoundingClientRect().right).slice(0, 5)]")
    check(widths[0] <= widths[1], f"the centre fits a phone's width {widths}")
    shot("centre-phone")
    driver.set_window_size(1280, 900)

    # Consent events reach the mailer with the person's unsubscribe page (used below).
    api("POST", "/v1/webhooks", {"url": Mailer.url, "events": ["consent.given"]})
    driver.get(f"{BASE}/f/{form['key']}")
    check(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de", "the form in German")
    driver.find_element(By.ID, "field-name").send_keys("Fritz Formular")
    driver.find_element(By.ID, "field-email").send_keys(f"fritz{MARK}@example.org")
    driver.find_element(By.ID, "field-description").send_keys("Bitte rufen Sie mich an.")
    driver.find_element(By.CSS_SELECTOR, "input[name=consent]").click()
    shot("form-filled")
    # The policies are required checkboxes: the browser itself holds the form back without them.
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    check(driver.current_url.endswith(f"/f/{form['key']}"), "the browser refuses the form without the acceptances")
    for box in driver.find_elements(By.CSS_SELECTOR, "input[name=accept]"):
        box.click()
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    check("Danke! Wir melden uns." in wait_for("Danke! Wir melden uns."), "the thank-you page")
    shot("form-thank-you")
    leads = api("GET", f"/v1/leads?q=fritz{MARK}")["data"]
    check(len(leads) == 1 and leads[0]["source"] == "website", "the form's lead exists")
    accepted = api("GET", f"/v1/leads/{leads[0]['id']}/policy-acceptances")["data"]
    check(sorted(a["kind"] for a in accepted) == ["privacy", "terms"] and all(a["language"] == "de" for a in accepted),
          "both acceptances, in German")
    states = api("GET", f"/v1/leads/{leads[0]['id']}/consents")["purposes"]
    check(any(s["purpose_id"] == purpose["id"] and s["state"] == "given" for s in states), "the consent given on the form")

    # Withdrawing is as easy as giving: the unsubscribe page the consent event named, one button.
    given = None
    for _ in range(150):
        given = next((m for m in Mailer.received if m["type"] == "consent.given"
                      and m["data"]["person_id"] == leads[0]["id"]), None)
        if given:
            break
        time.sleep(0.1)
    check(given is not None and given["data"]["unsubscribe_url"].startswith(BASE + "/u/"), "the consent event names the unsubscribe page")
    driver.get(given["data"]["unsubscribe_url"])
    check("Abmelden" in text() and "Einwilligung" in text(), "the unsubscribe page asks, in German")
    check(api("GET", f"/v1/leads/{leads[0]['id']}/consents")["purposes"][0]["state"] == "given", "opening it changes nothing")
    shot("unsubscribe")
    driver.find_element(By.XPATH, "//button[normalize-space()='Abmelden']").click()
    check("Sie sind abgemeldet" in wait_for("Sie sind abgemeldet"), "the page says the person is unsubscribed")
    history = api("GET", f"/v1/leads/{leads[0]['id']}/consents")["history"]
    check(history[-1]["action"] == "withdraw" and history[-1]["channel"] == "unsubscribe", "the consent is withdrawn, by unsubscribe")
    shot("unsubscribed")

    # Double opt-in: the form's consent is pending until the person confirms it on the page the
    # mailer's message links to; opening the page changes nothing.
    api("PATCH", f"/v1/consent-purposes/{purpose['id']}", {"double_opt_in": True})
    api("POST", "/v1/webhooks", {"url": Mailer.url, "events": ["person.consent_confirmation_requested"]})
    driver.get(f"{BASE}/f/{form['key']}")
    driver.find_element(By.ID, "field-name").send_keys("Dora Doppelt")
    driver.find_element(By.ID, "field-email").send_keys(f"dora{MARK}@example.org")
    driver.find_element(By.CSS_SELECTOR, "input[name=consent]").click()
    for box in driver.find_elements(By.CSS_SELECTOR, "input[name=accept]"):
        box.click()
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for("Danke! Wir melden uns.")
    dora = api("GET", f"/v1/leads?q=dora{MARK}")["data"][0]
    def dora_state():
        return next(s["state"] for s in api("GET", f"/v1/leads/{dora['id']}/consents")["purposes"] if s["purpose_id"] == purpose["id"])
    check(dora_state() == "pending", "the form's consent waits for its confirmation")
    asked = None
    for _ in range(150):
        asked = next((m for m in Mailer.received if m["type"] == "person.consent_confirmation_requested"
                      and m["data"]["person_id"] == dora["id"]), None)
        if asked:
            break
        time.sleep(0.1)
    check(asked is not None and asked["data"]["email"] == f"dora{MARK}@example.org"
          and asked["data"]["confirmation_url"].startswith(BASE + "/c/"), "the mailer is asked to send the confirmation link")
    driver.get(asked["data"]["confirmation_url"])
    check("Einwilligung bestätigen" in text() and purpose["name"] in text(), "the confirmation page asks, in German, naming the purpose")
    check(dora_state() == "pending", "opening it changes nothing")
    shot("consent-confirmation")
    driver.find_element(By.XPATH, "//button[normalize-space()='Einwilligung bestätigen']").click()
    check("Ihre Einwilligung ist bestätigt" in wait_for("Ihre Einwilligung ist bestätigt"), "the page says the consent is confirmed")
    check(dora_state() == "given", "the consent counts now")
    shot("consent-confirmed")
    if FRONTEND_PORT:
        driver.get(start_frontend(FRONTEND_PORT))
        result = driver.execute_async_script(CROSS_ORIGIN_CALLS, BASE, KEY, f"Cora CORS {MARK}")
        check(result.get("created") == 201 and (result.get("location") or "").startswith("/v1/leads/"),
              f"a frontend on an allowed origin creates through the API and reads Location {result}")
        check(result.get("read") == 200 and result.get("etag") == '"1"' and result.get("name") == f"Cora CORS {MARK}",
              "and reads the record with its ETag")
        driver.get(start_frontend(0))
        result = driver.execute_async_script(CROSS_ORIGIN_CALLS, BASE, KEY, f"Mallory CORS {MARK}")
        check("error" in result, f"a page on an origin not on the list cannot call the API {result}")
        check(not api("GET", f"/v1/leads?q=mallory%20cors%20{MARK}")["data"], "and created nothing")
    print(f"browser check passed: {step} screenshots in {SHOTS}")
finally:
    driver.quit()
