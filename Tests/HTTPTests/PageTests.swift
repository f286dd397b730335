import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@testable import CustodianHTTP

@Suite("Pages: the privacy centre and web forms as HTML, in German and English, with CSRF tokens")
struct PageTests {
    /// What a browser keeps between a page and its form post: the cookie and the form's token.
    struct Browser {
        let cookie: String
        let csrf: String

        init(_ page: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let setCookie = try #require(page.headers[.setCookie], sourceLocation: sourceLocation)
            cookie = String(try #require(setCookie.split(separator: ";").first, sourceLocation: sourceLocation))
            let marker = #"name="csrf" value=""#
            let start = try #require(page.text.range(of: marker), sourceLocation: sourceLocation).upperBound
            csrf = String(page.text[start...].prefix { $0 != "\"" })
        }

        func headers(withToken: Bool = true, withCookie: Bool = true) -> HTTPFields {
            var fields = HTTPFields()
            fields[.contentType] = "application/x-www-form-urlencoded"
            if withCookie { fields[.cookie] = cookie }
            return fields
        }

        func body(_ pairs: [(String, String)], withToken: Bool = true) -> String {
            let all = (withToken ? [("csrf", csrf)] : []) + pairs
            return all.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        }
    }

    static func lead(_ client: ContractClient, key: String, name: String) async throws -> (id: String, token: String) {
        let id = try #require(
            try await client.create("/v1/leads", key: key, #"{"name": "\#(name)", "email": "\#(SeededPerson.marker())@page.example"}"#)[
                "id"]
                as? String)
        return (id, try await PrivacyCentreTests.token(client, key: key, lead: id))
    }

    @Test func theCentreSpeaksTheBrowsersLanguageUnlessAskedAndSendsNoCacheNoScriptsNoFraming() async throws {
        try await StaffFixture.withApp { fixture, client in
            let (_, token) = try await Self.lead(client, key: fixture.adminKey, name: "Greta Page")
            var german = HTTPFields()
            german[.acceptLanguage] = "de-DE,de;q=0.9,en;q=0.8"
            let de = try await client.send(.get, "/p/\(token)", headers: german)
            #expect(de.status == .ok)
            #expect(de.text.contains(#"<html lang="de">"#) && de.text.contains("Ihr Datenschutz-Center") && de.text.contains("Greta Page"))
            let en = try await client.send(.get, "/p/\(token)?lang=en", headers: german)
            #expect(en.text.contains(#"<html lang="en">"#) && en.text.contains("Your privacy centre"))
            #expect(try await client.send(.get, "/p/\(token)").text.contains(#"<html lang="en">"#))
            for page in [de, en] {
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.headers[.cacheControl] == "no-store")
                #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
                #expect(!page.text.contains("<script"))
                #expect(page.headers[.setCookie]?.contains("SameSite=Strict") == true)
            }
            let invalid = try await client.send(.get, "/p/\(String(repeating: "A", count: 43))?lang=de")
            #expect(invalid.status == .notFound)
            #expect(invalid.headers[.contentType] == "text/html; charset=utf-8" && invalid.text.contains("nicht gültig"))
        }
    }

    @Test func theCookieIsSecureWhenThePagesAreServedOverHTTPS() async throws {
        for (base, secure) in [("https://privacy.example/p", true), ("http://127.0.0.1:8080/p", false)] {
            try await StaffFixture.withApp(settings: ServerSettings(consentLinkBaseURL: base)) { fixture, client in
                let (_, token) = try await Self.lead(client, key: fixture.adminKey, name: "Sina Secure")
                let cookie = try #require(try await client.send(.get, "/p/\(token)").headers[.setCookie])
                #expect(cookie.contains("; Secure") == secure, "\(base): \(cookie)")
            }
        }
    }

    @Test func everyPostNeedsThePagesTokenAndItsCookieAndOnlyThenChangesAnything() async throws {
        try await StaffFixture.withApp { fixture, client in
            let (lead, token) = try await Self.lead(client, key: fixture.adminKey, name: "Carl Csrf")
            let (_, otherToken) = try await Self.lead(client, key: fixture.adminKey, name: "Olga Other")
            let browser = try Browser(try await client.send(.get, "/p/\(token)"))
            let otherPage = try Browser(try await client.send(.get, "/p/\(otherToken)"))
            let correction = [("name", "Carl Corrected")]
            for (headers, body) in [
                (browser.headers(), browser.body(correction, withToken: false)),
                (browser.headers(withCookie: false), browser.body(correction)),
                (browser.headers(), otherPage.body(correction)),
            ] {
                let refused = try await client.send(.post, "/p/\(token)/correction", headers: headers, body: body)
                #expect(refused.status == .forbidden)
                #expect(refused.headers[.contentType] == "text/html; charset=utf-8")
            }
            #expect(
                try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey)).json()["name"] as? String
                    == "Carl Csrf")

            let corrected = try await client.send(
                .post, "/p/\(token)/correction", headers: browser.headers(), body: browser.body(correction))
            #expect(corrected.status == .ok, "\(corrected.text)")
            #expect(corrected.text.contains("Your corrections are saved."))
            #expect(
                try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey)).json()["name"] as? String
                    == "Carl Corrected")
            let recorded = try await client.send(.get, "/v1/leads/\(lead)/corrections", headers: headers(key: fixture.adminKey)).json()
            #expect((recorded["data"] as? [[String: Any]])?.map { $0["corrected_by"] as? String } == ["person"])

            let invalid = try await client.send(
                .post, "/p/\(token)/correction", headers: browser.headers(), body: browser.body([("email", "not an email")]))
            #expect(invalid.status == .unprocessableContent)
            #expect(invalid.text.contains(#"role="alert""#) && invalid.text.contains("Email"))
        }
    }

    @Test func thePersonWithdrawsConsentFilesARequestAndAcceptsThePolicyOnThePage() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let purpose = try await client.createPurpose(key: admin)
            let published = try await PolicyTests.publish(
                client, key: admin, "privacy",
                #"{"texts": [{"language": "de", "title": "Datenschutz", "body": "Wir schützen Ihre Daten."}]}"#)
            let version = try #require(published.first?["version"] as? Int)
            let (lead, token) = try await Self.lead(client, key: admin, name: "Wanda Withdraw")
            _ = try await client.create("/v1/leads/\(lead)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            let page = try await client.send(.get, "/p/\(token)?lang=de")
            #expect(page.text.contains("Einwilligung widerrufen") && page.text.contains("Wir schützen Ihre Daten."))
            let browser = try Browser(page)

            let withdrawn = try await client.send(
                .post, "/p/\(token)/consents?lang=de", headers: browser.headers(),
                body: browser.body([("purpose_id", purpose), ("action", "withdraw")]))
            #expect(withdrawn.status == .ok)
            #expect(withdrawn.text.contains("Ihr Widerruf ist erfasst."))
            let consents = try await client.send(.get, "/v1/leads/\(lead)/consents", headers: headers(key: admin)).json()
            let last = try #require((consents["history"] as? [[String: Any]])?.last)
            #expect(last["action"] as? String == "withdraw" && last["channel"] as? String == "consent_link")

            let filed = try await client.send(
                .post, "/p/\(token)/requests", headers: browser.headers(),
                body: browser.body([("kind", "access"), ("details", "Alles bitte")]))
            #expect(filed.status == .ok, "\(filed.text)")
            let cases = try await client.send(.get, "/v1/requests?subject_id=\(lead)", headers: headers(key: admin)).json()
            #expect((cases["data"] as? [[String: Any]])?.first?["channel"] as? String == "link")
            #expect(filed.text.contains("Access to my data"))

            let accepted = try await client.send(
                .post, "/p/\(token)/policy-acceptances", headers: browser.headers(),
                body: browser.body([("kind", "privacy"), ("version", String(version)), ("language", "de")]))
            #expect(accepted.status == .ok)
            #expect(accepted.text.contains("You accepted this version."))
        }
    }

    @Test func theFormPageCreatesLeadAcceptanceAndConsentOrShowsTheProblems() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let purpose = try await client.createPurpose(
                key: admin, name: "Product news", description: "News about products.", appliesTo: "leads")
            let published = try await PolicyTests.publish(
                client, key: admin, "terms", #"{"texts": [{"language": "en", "title": "Terms", "body": "Be nice."}]}"#)
            let version = try #require(published.first?["version"] as? Int)
            let form = try await client.create(
                "/v1/forms", key: admin,
                #"{"name": "Contact us", "fields": ["name", "email", "description"], "required_fields": ["name", "email"], "purposes": ["\#(purpose)"], "requires_terms": true, "requires_privacy": false, "thank_you": "We will call you."}"#
            )
            let key = try #require(form["key"] as? String)
            let page = try await client.send(.get, "/f/\(key)")
            #expect(page.status == .ok)
            #expect(page.text.contains(#"name="homepage""#) && page.text.contains("Product news") && page.text.contains("Be nice."))
            let browser = try Browser(page)
            let counts = try await WebFormTests.counts(fixture.pool)
            let email = "\(SeededPerson.marker())@form.example"
            let answers = [("name", "Fiona Form"), ("email", email), ("consent", purpose)]

            let forged = try await client.send(
                .post, "/f/\(key)", headers: browser.headers(), body: browser.body(answers, withToken: false))
            #expect(forged.status == .forbidden)
            let unaccepted = try await client.send(.post, "/f/\(key)", headers: browser.headers(), body: browser.body(answers))
            #expect(unaccepted.status == .unprocessableContent)
            #expect(unaccepted.text.contains(#"role="alert""#) && unaccepted.text.contains("Fiona Form"), "the form again, as typed")
            #expect(try await WebFormTests.counts(fixture.pool) == counts)

            let sent = try await client.send(
                .post, "/f/\(key)", headers: browser.headers(), body: browser.body(answers + [("accept", "terms:\(version):en")]))
            #expect(sent.status == .ok, "\(sent.text)")
            #expect(sent.text.contains("We will call you."))
            let leads = try await client.send(.get, "/v1/leads?q=\(email)", headers: headers(key: admin)).json()
            let lead = try #require((leads["data"] as? [[String: Any]])?.first?["id"] as? String)
            let acceptances = try await client.send(.get, "/v1/leads/\(lead)/policy-acceptances", headers: headers(key: admin)).json()
            #expect((acceptances["data"] as? [[String: Any]])?.first?["context"] as? String == "web_form")
            let consents = try await client.send(.get, "/v1/leads/\(lead)/consents", headers: headers(key: admin)).json()
            #expect(
                ((consents["purposes"] as? [[String: Any]])?.first { $0["purpose_id"] as? String == purpose })?["state"] as? String
                    == "given")
        }
    }

    @Test func bothCataloguesHaveEveryText() {
        #expect(Set(Catalogue.english.keys) == Set(Catalogue.german.keys))
        #expect(PageLanguage.preferred("fr-FR, de;q=0.5, en;q=0.7") == .en)
        #expect(PageLanguage.preferred("de-AT") == .de)
        #expect(PageLanguage.preferred("fr") == nil)
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
    }
}
