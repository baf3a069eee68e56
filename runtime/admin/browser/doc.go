// Package browser holds the admin console's test in a real headless
// Chromium. It is a module of its own so that chromedp stays out of the
// library module's requirements (README, Architecture).
package browser
