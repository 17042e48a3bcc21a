nav-home = Accueil
nav-about = À propos
nav-posts = Articles
greeting = Bonjour, { $name } !
post-count = { $count ->
    [one] Il y a un article.
   *[other] Il y a { $count } articles.
}
about-title = À propos de ce site
about-body = Un site construit en deux langues.
post-title = Article « { $slug } »
not-found = Cette page n’existe pas.
error-title = Page indisponible
