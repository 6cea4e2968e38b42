// Starts GraphiQL on the page's endpoint, over HTTP for queries and
// mutations and WebSocket for subscriptions, both on this origin. It lives
// in its own file so the page needs no inline script under its
// Content-Security-Policy.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var path = root.dataset.endpoint;
  var wsProto = location.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: location.protocol + "//" + location.host + path,
    subscriptionUrl: wsProto + "//" + location.host + path,
  });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    })
  );
})();
