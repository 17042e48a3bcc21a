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
