import "@mantine/core/styles.css";
import "./app.css";
import { MantineProvider, createTheme } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { ApiError } from "./api/client";
import { App } from "./App";
import "./i18n";

const queries = new QueryClient({
  defaultOptions: {
    queries: {
      // A 404 or 403 will not change by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      staleTime: 15_000,
      refetchOnWindowFocus: false,
    },
  },
});

const theme = createTheme({
  primaryColor: "teal",
  // Contrast: white on teal 9 (and teal 9 on white) passes WCAG AA (4.5:1).
  primaryShade: 9,
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme}>
      <QueryClientProvider client={queries}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
