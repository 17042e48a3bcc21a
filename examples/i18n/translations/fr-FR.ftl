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
site-name = Un site bilingue
site-description = Un petit site en anglais et en français, construit avec perseus pour Python.
site-footer = Construit avec perseus pour Python, en deux langues.
post-body = Cet article a été rendu à la construction, une fois par langue.
back-home = Retour à l’accueil
