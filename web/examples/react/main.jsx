import { createRoot } from "react-dom/client";
import { LivenessCheck } from "./LivenessCheck.jsx";

createRoot(document.getElementById("root")).render(
  <LivenessCheck
    apiBase="https://liveness.shop.example"
    onVerdict={(verdict) => console.log(verdict.valid, verdict)}
  />,
);
