"""Running, rendering and submitting the Argo workflows of workflows/, and recording their runs."""
