import { LoginPage } from "@/components/auth/login-page";

export default function Page() {
  return <LoginPage />;
}
