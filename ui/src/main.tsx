import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./index.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider, createBrowserRouter } from "react-router";
import { App } from "./App";
import { AppProviders, makeQueryClient } from "./Providers";
import { ErrorBoundary } from "./components/ErrorBoundary";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
const client = makeQueryClient();
// A data router: forms ask before unsaved edits are navigated away from (useBlocker).
const router = createBrowserRouter([
  {
    path: "*",
    element: (
      <AppProviders client={client}>
        <ErrorBoundary resetKey="app">
          <App />
        </ErrorBoundary>
      </AppProviders>
    ),
  },
]);
createRoot(root).render(
  <StrictMode>
    <RouterProvider router={router} />
  </StrictMode>,
);
