import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/v1/feeds/{leads|contacts|customers}`: JSON Lines of what changed since a cursor, for
/// integrators (role `integration` or above).
struct FeedRoutes {
    let feeds: Feeds
    let auth: StaffAuthenticator
    let metrics: AppMetrics

    func register(on routes: inout RouteTable) {
        for feed in Feeds.Feed.allCases {
            routes.on(.get, "/v1/feeds/\(feed.rawValue)", use: auth.requiring(.integration, poll(feed)))
        }
    }

    func poll(_ feed: Feeds.Feed) -> StaffAuthenticator.AuthenticatedHandler {
        { request, _, _ in
            try ListQuery(request, known: ["since"]).finish()
            // Read as sent: a cursor is exact bytes, and an empty one is no cursor.
            let since = QueryParameters(request)["since"]
            var cursor = FeedCursor.start(feed)
            if let since {
                guard let issued = FeedCursor(text: since, feed: feed) else { throw Self.invalidCursor }
                cursor = issued
            }
            do {
                try await feeds.check(cursor)
            } catch let refusal as Feeds.Refusal {
                throw refusal == .expired ? ProblemError(.cursorExpired) : Self.invalidCursor
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            headers[.cacheControl] = "no-store"
            // The body is written after this handler returns, where the actor is no longer set.
            let actor = AuditActor.current
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { [cursor] writer in
                    let lag = try await AuditActor.$current.withValue(actor) {
                        try await feeds.poll(from: cursor) { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                    }
                    if let lag { metrics.feedLag(feed: feed.rawValue, lag) }
                    try await writer.finish(nil)
                })
        }
    }

    static let invalidCursor = ProblemError(.invalidCursor, detail: "`since` must be a cursor this feed returned")
}
