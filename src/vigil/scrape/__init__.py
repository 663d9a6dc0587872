"""Scraping: target discovery, relabeling, scrape loops, `up`/`scrape_*` series, staleness."""
