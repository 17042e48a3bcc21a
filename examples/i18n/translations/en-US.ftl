nav-home = Home
nav-about = About
nav-posts = Posts
greeting = Hello, { $name }!
post-count = { $count ->
    [one] There is one post.
   *[other] There are { $count } posts.
}
about-title = About this site
about-body = A site built in two languages.
post-title = Post “{ $slug }”
not-found = This page does not exist.
error-title = Page not available
site-name = A bilingual site
site-description = A small site in English and French, built with perseus for Python.
site-footer = Built with perseus for Python, in two languages.
post-body = This post was rendered at build time, once per language.
back-home = Back to the home page
