// graphene-django's graphiql.js reads window.GRAPHENE_SETTINGS; the page gives them as JSON
// data (no inline script, for the Content-Security-Policy).
window.GRAPHENE_SETTINGS = JSON.parse(document.getElementById("graphene-settings").textContent);
