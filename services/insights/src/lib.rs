//! herald-insights
