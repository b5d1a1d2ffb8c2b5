"""WhoScored scraping: JS-literal and page parsers, a remote-WebDriver browser, navigation, and the store writer.

Entry point: `shared.scraping.whoscored.scrape_whoscored`; CLI: `shared.scraping.cli`.
"""
