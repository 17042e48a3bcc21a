"""Plugins: objects that add templates, files, head and body HTML, routes and build steps
to an app (``PerseusApp(plugins=[...])``), and the first-party ones."""

from .base import Plugin
from .feed import Feed
from .head_tags import HeadTags
from .output import BuiltPageInfo, BuiltSite
from .sitemap import Sitemap

__all__ = ["BuiltPageInfo", "BuiltSite", "Feed", "HeadTags", "Plugin", "Sitemap"]
