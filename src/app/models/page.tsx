import { ModelsPage } from "@/components/models/models-page";

export default function Page() {
  return <ModelsPage />;
}
