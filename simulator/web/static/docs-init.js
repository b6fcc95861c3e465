// Renders /openapi.json with Swagger UI; the server-rendered list stays for browsers
// without JavaScript. No validator badge: it would call another origin.
window.addEventListener("DOMContentLoaded", function () {
  if (typeof SwaggerUIBundle !== "function") return;
  document.getElementById("plain").hidden = true;
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
