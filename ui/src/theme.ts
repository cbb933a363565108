import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  defaultRadius: "md",
  // Modals, drawers and menus appear without motion for people who ask their system for that.
  respectReducedMotion: true,
  fontFamily: "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
});
